"""The JSON-RPC 2.0 API on the ``++skin++Scrapy`` namespace.

Methods are plain functions taking the request first, registered with the
:class:`jsonrpc_method` decorator (picked up by ``config.scan``) or the
``config.add_jsonrpc_method`` directive. Their wire names are the API's
camelCase names; the Python functions are snake_case.
"""
import bson.errors
import pymongo.errors
import venusian

from s01.worker.interfaces import IScrapyRoot
from s01.worker.interfaces import IScrapySkin
from s01.worker.rpc.protocol import MethodRegistry
from s01.worker.rpc.protocol import commit_failed_view
from s01.worker.rpc.protocol import jsonrpc_view
from s01.worker.security import VIEW


class jsonrpc_method:
    """Decorator: register a function as the JSON-RPC method ``name``."""

    venusian = venusian

    def __init__(self, name, permission=VIEW):
        self.name = name
        self.permission = permission

    def __call__(self, wrapped):
        def register(context, _name, func):
            context.config.add_jsonrpc_method(func, self.name,
                                              self.permission)

        self.venusian.attach(wrapped, register, category="pyramid")
        return wrapped


def add_jsonrpc_method(config, func, name, permission=VIEW):
    """Config directive: make ``func`` the JSON-RPC method ``name``."""
    def register():
        config.registry.s01_rpc_methods.add(name, func, permission)

    config.action(("s01.rpc.method", name), register)


def includeme(config):
    config.registry.s01_rpc_methods = MethodRegistry()
    config.add_directive("add_jsonrpc_method", add_jsonrpc_method)
    # No CSRF token here: a method runs only for a POST whose body is
    # application/json (check_http refuses text/plain and form types with
    # 415). An HTML form on another site cannot send that type, and a
    # script there that tries (fetch, XMLHttpRequest) makes the browser
    # ask first with an OPTIONS preflight, which never gets the CORS
    # answer it needs, so the POST is never sent.
    config.add_view(jsonrpc_view, context=IScrapyRoot,
                    request_type=IScrapySkin, permission=VIEW,
                    require_csrf=False)
    # A commit that fails after the methods ran (the database went away,
    # or a value no check caught could not be stored). ConnectionFailure
    # is named too: the pages' view for it would otherwise be found first,
    # and an API client would get an HTML page.
    for error in (pymongo.errors.ConnectionFailure,
                  pymongo.errors.PyMongoError, bson.errors.BSONError):
        config.add_exception_view(commit_failed_view, context=error,
                                  request_type=IScrapySkin)
    config.scan("s01.worker.rpc.methods")
    config.scan("s01.worker.rpc.jobs")
    config.scan("s01.worker.rpc.packages")
