"""tanxiao/platform"""
