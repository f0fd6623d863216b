import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leads.settings")
# The web server's request threads share pooled database connections (see settings).
os.environ.setdefault("DATABASE_POOL", "1")
application = get_wsgi_application()
