"""Business logic: the only code that combines the database, the model and the scoring maths.

Views, API, admin, management commands and Celery tasks call these; they hold no logic of their own.
"""
