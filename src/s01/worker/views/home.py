"""The front page: this daemon at a glance."""
import datetime

from pyramid.view import view_config

from s01.worker.interfaces import IScrapyRoot


@view_config(context=IScrapyRoot, request_method="GET",
             renderer="s01.worker.views:templates/home.html")
def home(context, request):
    """Server name, start time, Mongo and processor state, pythons."""
    started = datetime.datetime.fromtimestamp(context.startTime,
                                              datetime.timezone.utc)
    return {
        "root": context,
        "started": started.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "mongo": request.mongo.status(timeout=2.0),
        "processing": request.processor.is_alive(),
        "user": request.identity,
    }
