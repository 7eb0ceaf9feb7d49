resource "esb_resources" "app" {
  provider = galley

  resources_file    = "${path.module}/resources.yml"
  dynamodb_endpoint = "http://127.0.0.1:8000" # default: DYNAMODB_ENDPOINT
  s3_endpoint       = "http://127.0.0.1:9000" # default: S3_ENDPOINT
  # access_key / secret_key default to AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
}

output "tables" {
  value = esb_resources.app.table_names
}
