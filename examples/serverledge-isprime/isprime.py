"""A Serverledge function (Handler `isprime.handler`, Runtime `python310`): unchanged upstream shape."""


def handler(params, context):
    n = int(params.get("n", 0))
    print(f"checking {n}")
    if n < 0:
        raise ValueError("n must not be negative")
    is_prime = n > 1 and all(n % d for d in range(2, int(n**0.5) + 1))
    return {"IsPrime": is_prime}
