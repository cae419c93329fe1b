"""The customer's in-app inbox: notifications, the unread count, read and archive."""
