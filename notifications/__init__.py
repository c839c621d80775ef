"""Reminders and notices: channels (SMTP e-mail, SMS webhook, Aliyun SendSms, a file sink) and Jinja2 templates."""
