"""scoring_service"""
