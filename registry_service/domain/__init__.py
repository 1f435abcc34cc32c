"""registry_service/domain"""
