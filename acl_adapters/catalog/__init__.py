"""The catalog's ACL: product/category translators and the Product service read client."""
