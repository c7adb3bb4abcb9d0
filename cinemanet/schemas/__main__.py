from . import write_schemas

for p in write_schemas():
    print(p)
