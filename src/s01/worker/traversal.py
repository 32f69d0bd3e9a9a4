"""The ``++skin++Name`` traversal namespace.

A path may start with ``++skin++Name`` segments (``/++skin++Scrapy``). The
traverser consumes them, marks the request with the skin's interface and
traverses the rest of the path as usual, so ``/++skin++Scrapy`` reaches the
root with the request marked as a Scrapy-skin request. An unknown skin name
is left in the path and ends in a plain 404.
"""
from pyramid.traversal import ResourceTreeTraverser
from pyramid.traversal import split_path_info
from zope.interface import alsoProvides

from s01.worker.interfaces import IScrapySkin

SKIN_PREFIX = "++skin++"


class _PathOnly:
    """Just enough of a request for Pyramid's traverser: a new path."""

    matchdict = None

    def __init__(self, environ, path_info):
        self.environ = environ
        self.path_info = path_info


class SkinTraverser(ResourceTreeTraverser):
    """A resource tree traverser that understands ``++skin++Name``."""

    def __call__(self, request):
        if request.matchdict is not None:
            return super().__call__(request)

        # Consume leading skin segments that name a registered skin.
        skins = request.registry.s01_skins
        segments = list(split_path_info(request.path_info or "/"))
        while segments and segments[0].startswith(SKIN_PREFIX):
            skin = skins.get(segments[0][len(SKIN_PREFIX):])
            if skin is None:
                break
            alsoProvides(request, skin)
            request.skin = segments.pop(0)[len(SKIN_PREFIX):]

        if not getattr(request, "skin", None):
            return super().__call__(request)
        path = "/" + "/".join(segments)
        return super().__call__(_PathOnly(request.environ, path))


def add_skin(config, name, iface):
    """Config directive: make ``++skin++<name>`` mark requests with iface."""
    config.registry.s01_skins[name] = iface


def includeme(config):
    config.registry.s01_skins = {}
    config.add_directive("add_skin", add_skin)
    config.add_traverser(SkinTraverser)
    config.add_skin("Scrapy", IScrapySkin)
