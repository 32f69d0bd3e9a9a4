"""MongoDB: the client, the embedded server and transaction-managed writes.

``includeme`` connects once per process and registers the store as the
:class:`~s01.worker.interfaces.IMongoStore` utility; ``request.mongo`` is
that store.
"""
import atexit
import logging

from s01.worker.interfaces import IMongoStore
from s01.worker.mongo.store import MongoStore

log = logging.getLogger(__name__)


def get_store(request):
    return request.registry.getUtility(IMongoStore)


def includeme(config):
    store = config.registry.queryUtility(IMongoStore)
    if store is None:
        store = MongoStore.from_settings(config.get_settings())
        config.registry.registerUtility(store, IMongoStore)
        atexit.register(store.close)
    config.add_request_method(get_store, "mongo", reify=True)
