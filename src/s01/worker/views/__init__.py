"""Admin pages, server-rendered with Jinja2 and reached by traversal.

Every page needs basic auth like the API; viewers see everything and
managers may also act. Each form posts to a named view with the CSRF
token (see :mod:`s01.worker.security`) and is answered with a redirect.

=========================================  ================================
``/``                                      dashboard: servers, Mongo,
                                           processor, job counts, picture
``/@@processor`` (POST)                    start or stop the processor
``/packages``                              installs per server, add, sync
``/packages/@@add``, ``@@sync`` (POST)     queue AddPackage, SyncPackages
``/packages/<name>/<version>/<py>``        one install: spiders, run form
``.../@@run``, ``.../@@remove`` (POST)     queue RunSpider, remove
``/jobs``                                  jobs: filters, pages of 25
``/jobs/@@remove`` (POST)                  remove finished jobs
``/jobs/<id>``                             one job: output, log, items
``/jobs/<id>/@@cancel``, ``@@retry``       cancel; queue it again (POST)
``/jobs/<id>/@@progress``                  JSON the job page polls
``/jobs/<id>/@@log``, ``@@items``          the run's log and items feed
``/static/bootstrap/``, ``/static/s01/``   Bootstrap's CSS, our script
=========================================  ================================

Named views are written ``@@name`` in URLs, so a package called ``add``
is never taken for the view of that name.
"""
import xstatic.pkg.bootstrap
from pyramid.events import BeforeRender
from pyramid.events import NewResponse
from pyramid_jinja2 import EXTRAS_CONFIG_PHASE

from s01.worker.security import VIEW
from s01.worker.views.helpers import FILTERS
from s01.worker.views.helpers import add_globals

TEMPLATES = "s01.worker.views:templates/"
STATIC_MAX_AGE = 3600
# Pages load only what this daemon serves (Bootstrap draws some of its
# marks as data: images), post forms only to it and are never framed.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def template(name):
    """The renderer name of one of our templates."""
    return TEMPLATES + name


def add_page_headers(event):
    """NewResponse: the browser's own defences, on every HTML page."""
    response = event.response
    if response.content_type == "text/html":
        for name, value in PAGE_HEADERS.items():
            response.headers.setdefault(name, value)


def includeme(config):
    config.include("pyramid_jinja2")
    config.add_jinja2_renderer(".html")

    def setup_environment():
        env = config.get_jinja2_environment(".html")
        # Escaping is what keeps spider data from running in the pages;
        # it stays on whatever the ini's jinja2.* settings say.
        env.autoescape = True
        env.filters.update(FILTERS)

    config.action(None, setup_environment, order=EXTRAS_CONFIG_PHASE)
    config.add_subscriber(add_globals, BeforeRender)
    config.add_subscriber(add_page_headers, NewResponse)

    # CSS from the XStatic package and our own script, from this daemon:
    # the pages work without any other server. Static views get no default
    # permission, and this daemon answers nobody without credentials.
    config.add_static_view("static/bootstrap", xstatic.pkg.bootstrap.BASE_DIR,
                           cache_max_age=STATIC_MAX_AGE, permission=VIEW)
    config.add_static_view("static/s01", "s01.worker.views:static",
                           cache_max_age=STATIC_MAX_AGE, permission=VIEW)
    config.scan(__name__)
