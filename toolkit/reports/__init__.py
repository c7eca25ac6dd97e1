"""Reports for people: the error log and the HTML page."""
