"""loan_rules"""
