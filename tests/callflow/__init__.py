"""
Tests for L{fts.callflow}.
"""
