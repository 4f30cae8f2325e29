"""Example Canopy function: greets ?name=, and echoes a JSON body when one is sent.

Tasks are created with POST /v1/task/{functionId}, so decide on the body, not the method.
"""


def handle(request):
    if request.body:
        return {"status": 200, "body": {"you sent": request.json()}}
    name = request.query_params.get("name", "world")
    return f"Hello, {name}!"
