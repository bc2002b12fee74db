package cloudformation

import (
	"fmt"
	"path"
	"strings"

	"github.com/shoalhq/shoal/internal/spec"
)

// RedisPort is the port of an ElastiCache Redis node.
const RedisPort = 6379

// isRedis reports whether a task definition runs a Redis server: an image
// of redis, or redis-server as the command. Such a service without a
// target group is a backing service, and becomes an ElastiCache cluster.
func isRedis(td *spec.TaskDefinition) bool {
	if td == nil || len(td.Containers) > 0 {
		return false
	}
	if td.Image != "" {
		repo := td.Image
		if i := strings.LastIndex(repo, "/"); i >= 0 {
			repo = repo[i+1:]
		}
		repo, _, _ = strings.Cut(repo, ":")
		repo, _, _ = strings.Cut(repo, "@")
		return repo == "redis" || repo == "valkey"
	}
	argv := []string(td.Command)
	if len(argv) == 3 && argv[0] == "/bin/sh" && argv[1] == "-c" {
		argv = strings.Fields(argv[2])
	}
	if len(argv) > 0 && argv[0] == "exec" {
		argv = argv[1:]
	}
	return len(argv) > 0 && path.Base(argv[0]) == "redis-server"
}

// isCache reports whether service name is a Redis backing service.
func (b *builder) isCache(name string) bool {
	svc := b.s.Services[name]
	return svc != nil && svc.TargetGroup == "" && isRedis(b.s.TaskDefinitions[svc.TaskDefinition])
}

// caches adds an ElastiCache Redis cluster per Redis backing service: one
// node, in the Subnets parameter's subnets, behind a group that admits the
// instances on the Redis port.
func (b *builder) cacheIDs() {
	for _, name := range sortedKeys(b.s.Services) {
		if b.isCache(name) {
			b.caches[name] = b.id(name, "Redis")
		}
	}
	if len(b.caches) == 0 {
		return
	}
	b.param(paramCacheNodeType, &Parameter{Type: "String", Default: DefaultCacheNodeType, Description: "ElastiCache node type of the Redis caches"})
}

// cacheResources adds the caches' resources, once the instances' groups
// are known.
func (b *builder) cacheResources() {
	for _, name := range sortedKeys(b.caches) {
		svc, id, path := b.s.Services[name], b.caches[name], "services."+name
		subnets := b.id(name, "RedisSubnetGroup")
		group := b.id(name, "RedisSecurityGroup")
		sg := &SecurityGroup{GroupDescription: fmt.Sprintf("shoal stack %s: Redis cache %s takes connections from the instances", b.s.Name, name),
			VpcID: ref(paramVpc), Tags: tags(b.s.Name, name+"-cache")}
		for _, g := range b.instanceGroups {
			sg.SecurityGroupIngress = append(sg.SecurityGroupIngress, IngressRule{IPProtocol: "tcp", FromPort: intp(RedisPort), ToPort: intp(RedisPort),
				SourceSecurityGroupID: groupID(g), Description: "from the instances"})
		}
		b.resource(group, "AWS::EC2::SecurityGroup", sg)
		b.resource(subnets, "AWS::ElastiCache::SubnetGroup", &CacheSubnetGroup{Description: fmt.Sprintf("shoal stack %s: cache %s", b.s.Name, name), SubnetIDs: ref(paramSubnets)})
		b.resource(id, "AWS::ElastiCache::CacheCluster", &CacheCluster{
			Engine: "redis", CacheNodeType: ref(paramCacheNodeType), NumCacheNodes: 1, Port: RedisPort,
			CacheSubnetGroupName: ref(subnets), VpcSecurityGroupIDs: []any{groupID(group)}, Tags: tags(b.s.Name, name),
		})
		b.w.Add(path+".task_definition", "approximate: a Redis backing service becomes ElastiCache for Redis (%s, one node of the CacheNodeType parameter, port %d): the task definition's command, its flags and its image are not carried over; ${services.%s.address} is its endpoint", id, RedisPort, name)
		if svc.Desired > 1 {
			b.w.Add(path+".desired", "not carried over: the cache has one node; a replication group (AWS::ElastiCache::ReplicationGroup) has replicas")
		}
		if len(svc.SecurityGroups) > 0 {
			b.w.Add(path+".security_groups", "not carried over: the cache's group (%s) admits the instances' groups on port %d", group, RedisPort)
		}
	}
}
