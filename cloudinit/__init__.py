"""Cloud-init user data rendered from jinja2 templates."""
