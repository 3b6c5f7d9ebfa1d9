"""
Browser tests: Playwright driving Debian's headless Chromium through the
panel's main flows against a real C{twistd fts} daemon.
"""
