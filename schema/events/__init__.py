"""Customer events: recordEvent (conversions and anything else the company counts)."""
