"""Order Automation for Saleor: stage-based order automation as a Saleor app."""

__version__ = "0.1.0"
