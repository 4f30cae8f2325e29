// Example Canopy function: greets ?name=, and echoes a JSON body when one is sent.
// Tasks are created with POST /v1/task/{functionId}, so decide on the body, not the method.
'use strict';

function handle(request) {
  if (request.body.length > 0) {
    return { status: 200, body: { 'you sent': request.json() } };
  }
  const name = request.queryParams.name || 'world';
  return `Hello, ${name}!`;
}

module.exports = { handle };
