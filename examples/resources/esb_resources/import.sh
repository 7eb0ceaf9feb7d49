# The id is the resources file, then the endpoints (each optional, defaulting to
# DYNAMODB_ENDPOINT and S3_ENDPOINT):
#   RESOURCES_FILE[,dynamodb=DYNAMODB_ENDPOINT][,s3=S3_ENDPOINT]
# Imported tables and buckets are managed from then on: destroy deletes them.
terraform import esb_resources.app 'resources.yml,dynamodb=http://127.0.0.1:8000,s3=http://127.0.0.1:9000'
