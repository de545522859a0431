def run(): return {}
