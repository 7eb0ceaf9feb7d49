import os

print(f"{os.environ.get('GREETING', 'hi')} from an image built by galley_build")
