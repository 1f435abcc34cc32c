"""registry_service"""
