"""Pulumi type tokens of the resources the guardrails judge (``<package>:<module>:<Type>``).

``infra.policies`` re-exports every ``T_*`` name, as it did before the split.
"""

from typing import Final

T_TARGET_GROUP: Final = "aws:lb/targetGroup:TargetGroup"
T_LOAD_BALANCER: Final = "aws:lb/loadBalancer:LoadBalancer"
T_LISTENER: Final = "aws:lb/listener:Listener"
T_TASK_DEFINITION: Final = "aws:ecs/taskDefinition:TaskDefinition"
T_ECS_SERVICE: Final = "aws:ecs/service:Service"
T_ECS_CLUSTER: Final = "aws:ecs/cluster:Cluster"
T_SECURITY_GROUP: Final = "aws:ec2/securityGroup:SecurityGroup"
T_INGRESS_RULE: Final = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
T_EGRESS_RULE: Final = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
T_SG_RULE: Final = "aws:ec2/securityGroupRule:SecurityGroupRule"
T_SUBNET: Final = "aws:ec2/subnet:Subnet"
T_ROUTE: Final = "aws:ec2/route:Route"
T_ROUTE_TABLE: Final = "aws:ec2/routeTable:RouteTable"
T_RT_ASSOCIATION: Final = "aws:ec2/routeTableAssociation:RouteTableAssociation"
T_INTERNET_GATEWAY: Final = "aws:ec2/internetGateway:InternetGateway"
T_NAT_GATEWAY: Final = "aws:ec2/natGateway:NatGateway"
T_VPC_ENDPOINT: Final = "aws:ec2/vpcEndpoint:VpcEndpoint"
T_ECR_REPOSITORY: Final = "aws:ecr/repository:Repository"
T_ECR_LIFECYCLE: Final = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
T_SSM_PARAMETER: Final = "aws:ssm/parameter:Parameter"
T_RDS_INSTANCE: Final = "aws:rds/instance:Instance"
T_RDS_PARAMETER_GROUP: Final = "aws:rds/parameterGroup:ParameterGroup"
T_RDS_SUBNET_GROUP: Final = "aws:rds/subnetGroup:SubnetGroup"
T_RDS_PROXY: Final = "aws:rds/proxy:Proxy"
T_REDIS: Final = "aws:elasticache/replicationGroup:ReplicationGroup"
T_CACHE_SUBNET_GROUP: Final = "aws:elasticache/subnetGroup:SubnetGroup"
T_RANDOM_PASSWORD: Final = "random:index/randomPassword:RandomPassword"  # noqa: S105
T_LOG_GROUP: Final = "aws:cloudwatch/logGroup:LogGroup"
T_LAMBDA: Final = "aws:lambda/function:Function"
T_LAMBDA_PERMISSION: Final = "aws:lambda/permission:Permission"
T_API: Final = "aws:apigatewayv2/api:Api"
T_API_INTEGRATION: Final = "aws:apigatewayv2/integration:Integration"
T_API_STAGE: Final = "aws:apigatewayv2/stage:Stage"
T_ROLE: Final = "aws:iam/role:Role"
T_ROLE_POLICY: Final = "aws:iam/rolePolicy:RolePolicy"
T_POLICY: Final = "aws:iam/policy:Policy"
T_ROLE_ATTACHMENT: Final = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
T_KMS_KEY: Final = "aws:kms/key:Key"
T_DOCKER_IMAGE: Final = "docker:index/image:Image"
T_S3_BUCKET: Final = "aws:s3/bucket:Bucket"
T_S3_POLICY: Final = "aws:s3/bucketPolicy:BucketPolicy"
T_S3_PUBLIC_ACCESS: Final = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
T_S3_ENCRYPTION: Final = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
T_S3_LIFECYCLE: Final = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
T_S3_OWNERSHIP: Final = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
T_SECRET: Final = "aws:secretsmanager/secret:Secret"  # noqa: S105 (a type token)
T_SECRET_VERSION: Final = "aws:secretsmanager/secretVersion:SecretVersion"  # noqa: S105
T_SECRET_ROTATION: Final = "aws:secretsmanager/secretRotation:SecretRotation"  # noqa: S105
