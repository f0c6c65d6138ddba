"""WSGI entry point: `gunicorn wsgi:app`."""
from mes import create_app
from mes.serving import settle

app = settle(create_app())
