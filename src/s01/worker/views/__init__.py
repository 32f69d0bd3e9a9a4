"""Browser pages, server-rendered with Jinja2 templates."""


def includeme(config):
    config.include("pyramid_jinja2")
    config.add_jinja2_renderer(".html")
    config.scan(__name__)
