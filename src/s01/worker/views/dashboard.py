"""The dashboard: this daemon and the others sharing its database."""
import logging

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.view import view_config

from s01.worker.interfaces import IScrapyRoot
from s01.worker.rpc.methods import start_processor
from s01.worker.rpc.methods import stop_processor
from s01.worker.security import MANAGE
from s01.worker.views import chart
from s01.worker.views import template
from s01.worker.views.errors import error_page

log = logging.getLogger(__name__)

MONGO_TIMEOUT = 2.0


@view_config(context=IScrapyRoot, request_method="GET",
             renderer=template("dashboard.html"))
def dashboard(context, request):
    """Servers, Mongo, the processor, pythons, job counts, the picture."""
    mongo = request.mongo.status(timeout=MONGO_TIMEOUT)
    processor = request.processor
    values = {
        "root": context,
        "mongo": mongo,
        "processing": processor.is_alive(),
        "processor": processor,
        "pythons": python_versions(context),
        "servers": None,
        "counts": None,
        "chart": None,
    }

    # What the database knows; with Mongo away the page says so instead.
    if mongo["status"]:
        queue = request.jobs
        window = chart.window_of(request.GET.get("window"))
        now = queue.clock.now()
        ended = queue.ended(chart.since(now, window), chart.LIMIT,
                            chart.FIELDS)
        values.update(servers=queue.servers(), counts=queue.count(),
                      chart=chart.jobs_over_time(ended, now, window))
    return values


@view_config(context=IScrapyRoot, name="processor", request_method="POST",
             permission=MANAGE)
def processor_action(context, request):
    """Start or stop the processor, as the form's ``action`` says."""
    action = request.POST.get("action")
    if action == "start":
        start_processor(request)
        notice = "started"
    elif action == "stop":
        notice = "still-running" if stop_processor(request) else "stopped"
    else:
        return error_page(request, 400, "Unknown action",
                          "The processor can be started or stopped.")
    return HTTPSeeOther(request.resource_url(context, query={
        "notice": notice}))


def python_versions(root):
    """The python keys packages may use: the default one first."""
    versions = [(root.defaultPythonVersion, "python3 on the PATH")]
    versions += sorted((key, path) for key, path in
                       root.pythonVersions.items()
                       if key != root.defaultPythonVersion)
    return versions
