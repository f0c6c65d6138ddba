"""WSGI entry point: `gunicorn wsgi:app`."""
from mes import create_app

app = create_app()
