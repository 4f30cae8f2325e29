"""Example Canopy function: greets ?name= on GET and echoes a JSON body on POST."""


def handle(request):
    if request.method == "POST":
        return {"status": 200, "body": {"you sent": request.json()}}
    name = request.query_params.get("name", "world")
    return f"Hello, {name}!"
