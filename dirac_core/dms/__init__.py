"""data management"""
