// Test fixture: a function that does not compile; every task must get a 500 with the compiler's
// message, and the runner must stay up.
using Canopy;

public static class Handler
{
    public static object Handle(Request request)
    {
        return undefinedOnPurpose;
    }
}
