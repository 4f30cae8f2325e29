// Test fixture: an entry point that fails to load; every task must get a 500, the runner must stay up.
throw new Error('broken on purpose');
