// Example Canopy function: greets ?name=, and echoes a JSON body when one is sent.
// Tasks are created with POST /v1/task/{functionId}, so decide on the body, not the method.
using System.Collections.Generic;
using Canopy;

public static class Handler
{
    public static object Handle(Request request)
    {
        if (request.Body.Length > 0)
        {
            return new Dictionary<string, object> { { "you sent", request.Json() } };
        }
        string name;
        if (!request.QueryParams.TryGetValue("name", out name)) name = "world";
        return "Hello, " + name + "!";
    }
}
