"""
Route tables: each page module declares its routes in a L{RouteTable}, and
L{fts.web.app.AdminApp} installs every table on its one Klein app.

Klein names an endpoint after its function and silently replaces an earlier
endpoint of the same name; tables name endpoints C{module.function}, so two
modules may both have a C{show} route.
"""

import attr


@attr.s(frozen=True, slots=True)
class Route:
    url = attr.ib()
    methods = attr.ib()
    function = attr.ib()

    @property
    def endpoint(self):
        return f"{self.function.__module__}.{self.function.__name__}"


@attr.s(slots=True)
class RouteTable:
    """
    Routes declared by one module, installed later with L{install}.
    """

    routes = attr.ib(factory=list)

    def route(self, url, methods=("GET",)):
        """
        Declare C{f(web, request, **url_values)} as the route for C{url}.
        """

        def declare(f):
            self.routes.append(Route(url, tuple(methods), f))
            return f

        return declare

    def install(self, app):
        """
        Add every declared route to the Klein C{app}.
        """
        for route in self.routes:
            app.route(route.url, methods=list(route.methods),
                      endpoint=route.endpoint)(route.function)
