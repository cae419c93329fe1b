"""Delivery and consent stats: the rollups kept by triggers on `deliveries`, their fold and
rebuild, the queries that read them, and the scan they are held equal to."""
