"""
The panel's pages, one module per subject, each with a route table
(L{fts.web.routes.RouteTable}) that L{fts.web.app.AdminApp} installs.
"""
