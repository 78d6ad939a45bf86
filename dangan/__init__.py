"""dangan (档案): a records archive for organisations."""
__version__ = "0.1.0"
