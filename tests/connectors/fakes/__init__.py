"""Local fake HTTP servers standing in for external channels (Shopify, webhook receivers)."""
