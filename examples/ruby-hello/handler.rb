# frozen_string_literal: true

# Example Canopy function: greets ?name=, and echoes a JSON body when one is sent.
# Tasks are created with POST /v1/task/{functionId}, so decide on the body, not the method.

def handle(request)
  return { status: 200, body: { 'you sent' => request.json } } unless request.body.empty?

  name = request.query_params.fetch('name', 'world')
  "Hello, #{name}!"
end
