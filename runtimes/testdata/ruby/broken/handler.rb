# Test fixture: an entry point that fails to load; every task must get a 500, the runner must stay up.
raise LoadError, 'broken on purpose'
