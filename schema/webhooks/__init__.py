"""Outbound webhooks: createWebhook, deleteWebhook, webhooks and webhookDeliveries."""
