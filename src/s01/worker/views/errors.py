"""The pages of what went wrong: not found, a form without its token, and
a database that does not answer."""
import logging

import pymongo.errors
from pyramid.exceptions import BadCSRFToken
from pyramid.renderers import render_to_response
from pyramid.view import exception_view_config
from pyramid.view import notfound_view_config

from s01.worker.security import challenge
from s01.worker.views import template

log = logging.getLogger(__name__)


@notfound_view_config()
def not_found(exc, request):
    """A 404 page; a caller without credentials is asked for them first,
    so the answers tell strangers nothing about what exists."""
    if request.identity is None:
        return challenge(request)
    return error_page(request, 404, "Not found",
                      "There is nothing at this address.")


@exception_view_config(BadCSRFToken)
def bad_csrf_token(exc, request):
    """A form sent without the page's security token: refused."""
    if request.identity is None:
        return challenge(request)
    log.warning("form refused: no valid csrf token path=%s user=%s",
                request.path, request.authenticated_userid)
    return error_page(
        request, 400, "Form refused",
        "This form came without its security token, or with a stale one, "
        "so nothing was done. Reload the page and send it again.")


@exception_view_config(pymongo.errors.ConnectionFailure)
def database_error(exc, request):
    """A page that needed the database while it was away: 503.

    JSON-RPC requests get their own answer (``commit_failed_view`` of
    :mod:`s01.worker.rpc.protocol`, registered for the skin's requests).
    """
    if request.identity is None:
        return challenge(request)
    log.warning("page failed: database error path=%s error=%s",
                request.path, type(exc).__name__)
    return error_page(
        request, 503, "Database unavailable",
        "MongoDB does not answer (%s); try again in a moment."
        % type(exc).__name__)


def error_page(request, status, title, message, back=None):
    """Render the error page with ``status``."""
    response = render_to_response(
        template("error.html"),
        {"title": title, "message": message, "back": back},
        request=request)
    response.status_int = status
    return response
