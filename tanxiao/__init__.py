"""tanxiao"""
