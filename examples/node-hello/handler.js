// Example Canopy function: greets ?name= on GET and echoes a JSON body on POST.
'use strict';

function handle(request) {
  if (request.method === 'POST') {
    return { status: 200, body: { 'you sent': request.json() } };
  }
  const name = request.queryParams.name || 'world';
  return `Hello, ${name}!`;
}

module.exports = { handle };
