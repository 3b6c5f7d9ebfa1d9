from twisted.application.service import ServiceMaker

fts = ServiceMaker("fts", "fts.tap", "Automated outbound voice campaigns on Asterisk.", "fts")
