"""The operators' dashboard and the admins' console (FastAPI + Jinja2), built only by `web.app.create_app`."""
